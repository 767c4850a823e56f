from algoitny_migration.entrypoints.cli import main

main()
