from .bsvrb import BSVRB as RSVRB, BSVRB as SOBA, BSVRB as HypergradientDescent, BSVRB as StocBiO  # placeholder
