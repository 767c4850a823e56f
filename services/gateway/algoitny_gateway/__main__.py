from algoitny_gateway.entrypoints.cli import main

main()
