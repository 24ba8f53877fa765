from loadgenerator.cli import main

main()
