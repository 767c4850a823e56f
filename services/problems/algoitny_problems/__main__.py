from algoitny_problems.entrypoints.cli import main

main()
