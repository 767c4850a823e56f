from algoitny_hints.entrypoints.cli import main

main()
