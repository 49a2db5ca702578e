from rgdl.cli import main

main()
