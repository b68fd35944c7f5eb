"""A generated book for timing simulate (BENCHMARKS.md, "simulate on a scratch store").

    python3 host/benches/simulate_book.py 20000   # writes /tmp/sim/book-20000.json
"""
import json, os, sys, random
n = int(sys.argv[1]); random.seed(7)
os.makedirs("/tmp/sim", exist_ok=True)
tzs = ["Europe/Rome", "Europe/Berlin", "Europe/London", "America/New_York", "Asia/Tokyo"]
locs = ["it-IT", "de-DE", "en-GB", "en-US", "en-US"]
customers, invoices = [], []
for i in range(n):
    k = i % 5
    customers.append({"id": f"c{i}", "name": f"Customer {i} Srl", "email": f"c{i}@example.com", "locale": locs[k], "timezone": tzs[k], "segment": "b2b", "business": True, "customer_since": "2024-01-01", "invoices_paid": i % 20, "paid_on_time": min(i % 13, i % 20)})
    due = 1 + i % 28
    invoices.append({"id": f"i{i}", "number": f"F-{i}", "customer": f"c{i}", "currency": "EUR", "amount_due": f"{100 + (i * 37) % 20000}.00", "issued": "2026-09-01", "due": f"2026-10-{due:02}"})
json.dump({"customers": customers, "invoices": invoices}, open(f"/tmp/sim/book-{n}.json", "w"))
