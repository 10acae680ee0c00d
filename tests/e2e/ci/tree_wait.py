# Processes the launcher must wait for, or count although they were killed.
#   outlive      a Popen child outlives its parent, then leaks
#   forkserver   a forkserver pool: main, the forkserver, three workers
#   terminate    Pool.terminate() SIGTERMs workers after a finding each
#   sigkill      a child reports a finding, then is SIGKILLed
#   linger N     a child still runs N seconds after its parent ended
import multiprocessing
import os
import signal
import subprocess
import sys
import time


def leak_bytearray():
    import _bufsan_testext as testext
    testext.leak(bytearray(b"child"))  # FINDING: leaked-export


def release_unknown(_):
    import _bufsan_testext as testext
    testext.release_twice_via_copy(testext.Exporter(8))  # FINDING: release-unknown
    return os.getpid()


def release_unknown_then_block(n):
    release_unknown(n)
    time.sleep(60)  # until Pool.terminate() SIGTERMs it


def forkserver_work(_):
    import _bufsan_testext as testext
    testext.leak(bytearray(b"worker"))
    time.sleep(0.2)  # every worker gets a task
    return os.getpid()


def main(mode):
    if mode == "outlive-child":
        time.sleep(1.5)
        leak_bytearray()
    elif mode == "outlive":
        subprocess.Popen([sys.executable, __file__, "outlive-child"])
        print("tree_wait parent done")
    elif mode == "forkserver":
        multiprocessing.set_start_method("forkserver")
        pool = multiprocessing.Pool(3)
        print("tree_wait workers", len(set(pool.map(forkserver_work, range(3)))))
        pool.close()
        pool.join()
    elif mode == "terminate":
        multiprocessing.set_start_method("fork")
        pool = multiprocessing.Pool(2)
        pool.map_async(release_unknown_then_block, range(2), chunksize=1)
        time.sleep(3)  # both workers have reported and block
        pool.terminate()  # SIGTERM: they never reach their summary
        pool.join()
        print("tree_wait terminated")
    elif mode == "sigkill-child":
        import _bufsan_testext as testext
        testext.release_twice_via_copy(testext.Exporter(8))
        os.kill(os.getpid(), signal.SIGKILL)
    elif mode == "sigkill":
        print("tree_wait child status", subprocess.call([sys.executable, __file__, "sigkill-child"]))
    elif mode == "linger-child":
        time.sleep(float(sys.argv[2]))
    elif mode == "linger":
        # not holding the launcher's stdout/stderr: a reader of those would
        # wait for it too
        subprocess.Popen([sys.executable, __file__, "linger-child", sys.argv[2]],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print("tree_wait parent done")


# the forkserver imports this module in every process it starts: only the
# program itself may act
if __name__ == "__main__":
    main(sys.argv[1])
