from algoitny_problems.generation.entrypoints.process import main

main()
