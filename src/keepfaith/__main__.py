from keepfaith.launcher import run

run()
