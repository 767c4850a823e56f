from algoitny_accounts.entrypoints.cli import main

main()
