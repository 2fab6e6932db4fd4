from luacoder_core.cli import main

main()
