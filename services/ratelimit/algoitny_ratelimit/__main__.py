from algoitny_ratelimit.entrypoints.cli import main

main()
