from uqtwin.cli import main

main()
