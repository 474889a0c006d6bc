"""The shipped instance files by name, for the catalog: ``make_problem("mdkp", name="pet3")``."""

from __future__ import annotations

from ..loaders_binary import instance_path
from .independent_set import MIS
from .knapsack import MDKP
from .market_split import MarketSplit
from .qap import QAP
from .tsp import TSP


def shipped_mdkp(name: str = "hp1") -> MDKP:
    """A shipped SAC-94 MDKP file by name (hp1, hp2, pb1, pb2, pb4, pb5, pb7, pet2-pet5, pet7)."""
    return MDKP.from_file(instance_path("mdkp", f"{name}.dat"))


def shipped_mis(name: str = "1tc.16") -> MIS:
    """A shipped DIMACS MIS graph by name (Sloane's 1tc/1dc graphs or QOBLIB graphs)."""
    try:
        return MIS.from_file(instance_path("mis", f"{name}.txt"))
    except ValueError as sloane:
        try:
            return MIS.from_file(instance_path("mis_qoblib", f"{name}.gph"))
        except ValueError:
            raise sloane from None


def shipped_tsp(name: str = "burma14", formulation: str = "position") -> TSP:
    """A shipped TSPLIB instance (burma14, ulysses16) in the position or MTZ formulation."""
    return TSP.from_file(instance_path("tsp", f"{name}.tsp"), formulation=formulation)


def shipped_qap(name: str = "tai10a") -> QAP:
    """A shipped QAPLIB instance by name."""
    return QAP.from_file(instance_path("qap", f"{name}.dat"))


def shipped_market_split(name: str = "ms_03_050_002") -> MarketSplit:
    """A shipped QOBLIB market-split instance by name."""
    return MarketSplit.from_file(instance_path("msp", f"{name}.dat"))
