"""Many symbols: pooled training, per-symbol evidence, coverage routing, fan-out, retraining.

- ``sources``   candle files from folders or lists, validated file by file, grouped by timeframe
- ``pooling``   several symbols' rows in one time order; time cuts with a per-symbol purge
- ``training``  one release covering several symbols (global sequence models, pooled or
                per-symbol trees, one edge verdict per symbol)
- ``coverage``  which release covers a symbol; a per-symbol view of a loaded engine
- ``executors`` local process pool or Ray, behind one ``map``
- ``tasks``     JSON-able training tasks run by an executor
- ``gate``      quality-gated retraining: candidate vs production on the newest held-out bars

Like the package root, importing this imports no torch, xgboost, ray or fastapi.
"""
