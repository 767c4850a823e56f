from algoitny_search_indexer.entrypoints.cli import main

main()
