from magical_prune.cli import main

main()
