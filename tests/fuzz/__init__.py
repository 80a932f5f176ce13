"""The fuzz suite's generator (`generator`), its runner (`harness`), and
`python -m tests.fuzz --table N`, which prints the outcome table (`__main__`)."""
