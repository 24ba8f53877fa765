# Root conftest: pytest only honours `pytest_plugins` here. Gives every suite throwaway databases and vhosts.
pytest_plugins = ["testkit.fixtures"]
