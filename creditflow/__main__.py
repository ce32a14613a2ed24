from creditflow.cli import main

raise SystemExit(main())
