"""Demo data for the local stage (placeholder until the seed is written)."""


def main() -> None:
    print("demo data: none yet")


if __name__ == "__main__":
    main()
