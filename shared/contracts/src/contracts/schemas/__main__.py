from contracts.schemas import main

raise SystemExit(main())
