"""Published optima of the shipped MIS instance files (Sloane's code graphs, QOBLIB class 07), as the
instance READMEs give them: an independent reference shared by the QUBO test modules."""

MIS_OPT = {
    "1tc.8": 4,
    "1tc.16": 8,
    "1tc.32": 12,
    "1tc.64": 20,
    "1dc.64": 10,
    "1dc.128": 16,
    "farm": 10,
    "johnson8-2-4": 7,
    "ibm32": 13,
    "karate": 20,
    "football": 16,
    "chesapeake": 17,
    "MANN-a9": 3,
    "hamming6-2": 2,
    "hamming6-4": 12,
    "es60fst01": 60,
}
