from .cli import run

if __name__ == "__main__":  # spawned sweep workers import this module as __mp_main__
    run()
