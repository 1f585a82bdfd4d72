from keepfaith.cli import main

main()
