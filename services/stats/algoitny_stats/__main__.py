from algoitny_stats.entrypoints.cli import main

main()
