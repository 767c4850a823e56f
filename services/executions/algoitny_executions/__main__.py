from algoitny_executions.entrypoints.cli import main

main()
