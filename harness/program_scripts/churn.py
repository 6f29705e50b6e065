# The python3 program of the program suite (harness/programs_suite.cc):
# dict, list, tuple and string churn, the way a log-crunching script
# allocates. Run with PYTHONMALLOC=malloc so every object comes from the
# allocator under test rather than from CPython's own arenas, and with
# PYTHONHASHSEED=0 so the output is the same in every run.
#
# usage: python3 churn.py SEED N
import sys

SYLLABLES = ["ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "ve", "zu", "an", "or"]


def main():
    seed, n = int(sys.argv[1]), int(sys.argv[2])
    state = seed

    def below(k):
        nonlocal state
        state = (state * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        return (state >> 33) % k

    counts, records, cache = {}, [], {}
    total = 0
    for i in range(n):
        word = "".join(SYLLABLES[below(12)] for _ in range(1 + below(6)))
        counts[word] = counts.get(word, 0) + 1
        records.append({"id": i, "word": word, "tags": [word[:2], word[-2:]], "score": below(1000)})
        # A bounded cache: inserts, and the oldest quarter evicted when full.
        cache[(word, below(64))] = [word] * (1 + below(8))
        if len(cache) > 4096:
            for key in list(cache)[:1024]:
                del cache[key]
        # A sliding window of records, sorted and trimmed.
        if len(records) > 20000:
            records.sort(key=lambda r: (r["score"], r["word"]))
            total += sum(r["score"] for r in records[:100])
            records = records[10000:]
    text = " ".join(f"{w}:{c}" for w, c in sorted(counts.items()))
    parts = text.split(" ")
    print(len(counts), total, len(parts), sum(len(p) for p in parts))
    for w, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]:
        print(w, c)


main()
