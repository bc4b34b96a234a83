from mailwizard.cli import main

raise SystemExit(main())
