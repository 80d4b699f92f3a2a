"""``zoo_ray_join.py ADDRESS``: join the Ray cluster at ADDRESS as a throwaway driver and
leave, printing one line: ``ok N`` (its live nodes) or ``error TYPE: MESSAGE``.

``--executor ray --ray-address`` runs it in a child it kills at the connect timeout, so
that Ray's retries and its C++ log lines (on stderr, which the caller drops) never reach
the sweep (``zoo.exec.ray_address``).
"""

import os
import sys

if __name__ == "__main__":
    try:
        import ray

        ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False,
                 configure_logging=False)
        print("ok", sum(1 for node in ray.nodes() if node.get("Alive")), flush=True)
        ray.shutdown()
    except BaseException as exc:  # noqa: BLE001 - Ray also ends with SystemExit
        message = " ".join(str(exc).split()) or "(no message)"
        print("error", f"{type(exc).__name__}: {message}", flush=True)
        os._exit(3)
