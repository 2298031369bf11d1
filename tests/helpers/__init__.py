"""What the tests share: naive references (naive.py), finite differences (gradcheck.py), running
the command line (cli.py), texts to train on (texts.py, classify_texts.py, tree_texts.py) and
where things are (paths.py)."""
