from skillstream.cli import main

main()
