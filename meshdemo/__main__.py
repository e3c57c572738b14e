from meshdemo.cli import run_program

run_program()
