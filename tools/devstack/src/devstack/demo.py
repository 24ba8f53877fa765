"""``folio-stack demo``: a readable walk through Folio against the system `make up` started, over HTTP only.

It adds authors, categories and books; places an order that is confirmed, one rejected for want of stock,
one cancelled (its stock comes back) and one completed; gives feedback that shows as a verified purchase
and moves the book's average in the catalog; then prints each order's timeline and the e-mails that
arrived. It exits non-zero as soon as something does not reach its expected state in time.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

from devstack.client import ApiError, Customer, Folio, Json, eventually
from devstack.config import StackConfig

T = TypeVar("T")
EMAIL_TEMPLATES = {
    "confirmed": ["order-confirmed"],
    "rejected": ["order-cancelled"],
    "cancelled": ["order-confirmed", "order-cancelled"],
    "completed": ["order-confirmed", "order-completed"],
}


class DemoFailed(RuntimeError):
    pass


class Demo:
    def __init__(self, folio: Folio, timeout: float) -> None:
        self.folio = folio
        self.timeout = timeout
        self.run = uuid.uuid4().hex[:4]
        self.orders: dict[str, tuple[str, str]] = {}  # label -> (order id, expected final status)

    def step(self, text: str) -> None:
        print(f"\n== {text}")

    def wait(self, probe: Callable[[], T | None], what: str) -> T:
        try:
            return eventually(probe, timeout=self.timeout, what=what)
        except TimeoutError as error:
            raise DemoFailed(str(error)) from error

    def expect(self, condition: bool, what: str) -> None:
        if not condition:
            raise DemoFailed(what)
        print(f"   ok: {what}")

    def order_reaches(self, label: str, order_id: str, status: str) -> Json:
        def reached() -> Json | None:
            order = self.folio.order(order_id)
            return order if order["status"] == status else None

        order = self.wait(reached, f"order {label} becomes {status}")
        total = order["total"]
        money = f"{total['amount']} {total['currency']}" if total else "no total"
        reason = f", reason: {order['reason']}" if order["reason"] else ""
        print(f"   order {label} is {status} ({money}{reason})")
        return order

    def stock_is(self, title: str, book_id: str, stock: int) -> None:
        self.wait(lambda: self.folio.book(book_id)["stock"] == stock, f"{title} has {stock} in stock")
        print(f"   {title}: {stock} in stock")

    def main(self) -> None:
        folio = self.folio
        self.step(f"Catalog: authors, categories and books (run {self.run})")
        le_guin = folio.create_author("Ursula K. Le Guin")
        pratchett = folio.create_author("Terry Pratchett")
        fantasy = folio.create_category(f"Fantasy {self.run}")
        scifi = folio.create_category(f"Science Fiction {self.run}")
        books = {
            "earthsea": folio.create_book(
                "A Wizard of Earthsea", price="9.90", stock=5, author_ids=[le_guin], category_id=fantasy
            ),
            "left_hand": folio.create_book(
                "The Left Hand of Darkness", price="12.50", stock=3, author_ids=[le_guin], category_id=scifi
            ),
            "small_gods": folio.create_book(
                "Small Gods", price="8.99", stock=1, author_ids=[pratchett], category_id=fantasy
            ),
        }
        for book in books.values():
            names = ", ".join(book["author_names"])
            print(f"   {book['title']} by {names}: {book['price']['amount']} EUR, {book['stock']} in stock")
        earthsea, left_hand, small_gods = (books[k]["id"] for k in ("earthsea", "left_hand", "small_gods"))

        alice, bob, carol = Customer.named("Alice"), Customer.named("Bob"), Customer.named("Carol")

        self.step("Alice orders 2 x A Wizard of Earthsea: confirmed, priced by the catalog")
        first = folio.place_order(alice, {earthsea: 2})
        self.orders["1 confirmed"] = (first, "confirmed")
        order = self.order_reaches("1", first, "confirmed")
        self.expect(order["total"] == {"amount": "19.80", "currency": "EUR"}, "total is 2 x 9.90 = 19.80 EUR")
        self.stock_is("A Wizard of Earthsea", earthsea, 3)

        self.step("Bob orders 5 x Small Gods, of which there is 1: rejected, nothing held")
        second = folio.place_order(bob, {small_gods: 5})
        self.orders["2 rejected"] = (second, "rejected")
        self.order_reaches("2", second, "rejected")
        self.stock_is("Small Gods", small_gods, 1)

        self.step("Carol orders The Left Hand of Darkness, then cancels: the copy goes back on the shelf")
        third = folio.place_order(carol, {left_hand: 1})
        self.orders["3 cancelled"] = (third, "cancelled")
        self.order_reaches("3", third, "confirmed")
        self.stock_is("The Left Hand of Darkness", left_hand, 2)
        folio.cancel_order(carol, third)
        self.order_reaches("3", third, "cancelled")
        self.stock_is("The Left Hand of Darkness", left_hand, 3)

        self.step("Alice orders Small Gods and The Left Hand of Darkness; the shop completes the order")
        fourth = folio.place_order(alice, {small_gods: 1, left_hand: 1})
        self.orders["4 completed"] = (fourth, "completed")
        self.order_reaches("4", fourth, "confirmed")
        folio.complete_order(fourth)
        self.order_reaches("4", fourth, "completed")
        self.stock_is("Small Gods", small_gods, 0)

        self.step("Feedback on Small Gods: Alice bought it (verified), Bob did not")
        folio.give_feedback(bob, small_gods, 2, "Not my kind of humour.")
        self.wait(
            lambda: folio.book(small_gods)["rating_count"] == 1 or None, "the catalog shows Bob's feedback"
        )
        before = folio.book(small_gods)
        print(
            f"   catalog: Small Gods averages {before['average_rating']} over {before['rating_count']} rating"
        )
        folio.give_feedback(alice, small_gods, 5, "Brutha's journey is wonderful.")
        verified = self.wait(
            lambda: [f for f in folio.feedback(small_gods) if f["verified_purchase"]] or None,
            "Alice's feedback shows as a verified purchase",
        )
        self.expect(
            len(verified) == 1 and verified[0]["stars"] == 5, "Alice's 5 stars are a verified purchase"
        )

        def counted_twice() -> Json | None:
            book = folio.book(small_gods)
            return book if book["rating_count"] == 2 else None

        after = self.wait(counted_twice, "the catalog counts 2 ratings")
        print(
            f"   catalog: Small Gods averages {after['average_rating']} over {after['rating_count']} ratings"
        )
        self.expect(
            float(after["average_rating"]) == 3.5 and after["average_rating"] != before["average_rating"],
            "the average moved from 2 to 3.5",
        )

        self.step("Timelines")
        for label, (order_id, _) in self.orders.items():
            print(f"   order {label} ({order_id})")
            for entry in folio.history(order_id):
                cause = entry["cause_type"]
                print(
                    f"     {entry['at'][11:23]}  {entry['status']:<10} {entry['saga_state']:<16}"
                    f" {entry['change']:<22} <- {cause}"
                )

        self.step("E-mails (from the notification service, and as the mail sink received them)")
        for label, (order_id, status) in self.orders.items():
            expected = sorted(EMAIL_TEMPLATES[status])
            sent = self.wait(
                lambda order_id=order_id, expected=expected: self._sent(order_id, expected),  # type: ignore[misc]
                f"the e-mails of order {label} are sent",
            )
            mails = self.wait(
                lambda sent=sent: self._received(sent),  # type: ignore[misc]
                f"the mail sink has the e-mails of order {label}",
            )
            for mail in mails:
                print(f"   order {label}: to {', '.join(mail['rcpt_tos'])}: {mail['subject']}")
        print("\nThe demo went as expected.")

    def _sent(self, order_id: str, expected: list[str]) -> list[Json] | None:
        notes = self.folio.notifications(order_id)
        if sorted(n["template"] for n in notes) != expected:
            return None
        return notes if all(n["status"] == "sent" for n in notes) else None

    def _received(self, notes: list[Json]) -> list[Json] | None:
        ids = {n["id"] for n in notes}
        mails = [m for m in self.folio.mails() if m["notification_id"] in ids]
        return mails if len(mails) == len(ids) else None


def run(config: StackConfig, timeout: float) -> int:
    if not (config.run_dir / "auth-secret").exists():
        print(f"no stack was started from {config.run_dir}: `make up` first", file=sys.stderr)
        return 1
    with Folio(config) as folio:
        demo = Demo(folio, timeout)
        try:
            demo.main()
        except DemoFailed as failure:
            print(f"\nDEMO FAILED: {failure}", file=sys.stderr)
            return 1
        except (ApiError, httpx.HTTPError, OSError) as error:
            print(f"\nDEMO FAILED: {error}", file=sys.stderr)
            print("Is the system up? `make up` starts it.", file=sys.stderr)
            return 1
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds each step may take (30)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.demo", description=__doc__)
    parser.add_argument("--run-dir", type=Path, default=Path(".run"))
    add_arguments(parser)
    args = parser.parse_args(argv)
    raise SystemExit(run(StackConfig.load(args.run_dir) or StackConfig(run_dir=args.run_dir), args.timeout))


if __name__ == "__main__":
    main()
