"""How the tools end a process (vis.config_utils.run_tool): after a
distributed run, a hard exit with the tool's status, so that gloo's worker
threads cannot abort the interpreter's exit; otherwise the normal exit."""
import os
import os.path as osp
import subprocess
import sys
import textwrap

import pytest

from vis.config_utils import run_tool

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

# One process, one gloo group. A DDP model keeps the group alive after
# destroy_process_group; here a kept reference does. The group's worker
# thread is held inside a Python callback on a finished collective until the
# interpreter is finalizing: a hook freed when Python clears its modules
# (after it has marked itself as finalizing) releases the worker and waits.
# The worker then needs the GIL again, as gloo's worker does when it releases
# a collective whose tensor belongs to Python. In training the worker is late
# by chance (3 of 57 two-process runs); here it is late every time, whatever
# the machine's speed or load. (The hook lives in a module of its own: the
# callback keeps the main module's globals alive, so they are never cleared.)
HAZARD = '''
import sys, threading, time, types, torch, torch.distributed as dist
sys.path.insert(0, {root!r})
from vis.config_utils import close_distributed, run_tool


class ReleaseWhenFinalizing:
    def __init__(self, release, sleep):
        self.release, self.sleep = release, sleep

    def __del__(self):
        self.release.set()
        self.sleep(0.5)  # the worker wakes while Python is finalizing


release, on_worker, ran_inline = threading.Event(), threading.Event(), []


def hold(fut):
    # then() on a finished future runs the callback at once, in this thread.
    if threading.current_thread() is threading.main_thread():
        ran_inline.append(True)
        return
    on_worker.set()
    release.wait()


probe = types.ModuleType('finalizing_probe')
probe.hook = ReleaseWhenFinalizing(release, time.sleep)
sys.modules[probe.__name__] = probe
del probe


def main():
    global pg
    dist.init_process_group('gloo', init_method='file://{store}',
                            rank=0, world_size=1)
    pg = dist.group.WORLD
    close_distributed()
    for attempt in range(100):
        work = pg.allreduce([torch.ones(1)])
        work.get_future().then(hold)
        del work
        if not ran_inline:  # the worker runs the callback
            assert on_worker.wait(timeout=60), 'the worker never ran it'
            break
        ran_inline.clear()  # finished before then(): try again
    else:
        raise RuntimeError('no collective finished on a gloo worker')
    print('work done')  # buffered: the hard exit must flush it
    {end}

{call}
'''


def run_script(tmp_path, end='', call='run_tool(main)'):
    script = tmp_path / 'tool.py'
    script.write_text(textwrap.dedent(HAZARD).format(
        root=ROOT, store=str(tmp_path / 'store'), end=end, call=call))
    env = dict(os.environ, OMP_NUM_THREADS='1')
    for key in ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR',
                'MASTER_PORT'):
        env.pop(key, None)
    return subprocess.run([sys.executable, str(script)], env=env,
                          capture_output=True, text=True, timeout=120)


def test_plain_exit_crashes_with_a_busy_gloo_worker(tmp_path):
    """The control: with a gloo worker that needs the GIL while Python is
    finalizing, the interpreter's own exit is killed by a signal (SIGABRT or
    SIGSEGV) after the work is done. If this starts failing with a newer
    torch or Python, run_tool's hard exit may no longer be needed."""
    proc = run_script(tmp_path, call='main()')
    assert proc.returncode in (-6, -11), (proc.returncode, proc.stderr[-2000:])
    assert 'work done' in proc.stdout


def test_run_tool_exits_cleanly_after_a_distributed_run(tmp_path):
    proc = run_script(tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'terminate called' not in proc.stderr
    assert proc.stdout == 'work done\n'


def test_run_tool_keeps_the_status_and_message_of_system_exit(tmp_path):
    proc = run_script(tmp_path, end="raise SystemExit('error: it broke')")
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == 'error: it broke'
    assert proc.stdout == 'work done\n'
    proc = run_script(tmp_path, end='raise SystemExit(3)')
    assert proc.returncode == 3, proc.stderr[-2000:]


def test_run_tool_stops_daemon_children(tmp_path):
    """A data loader's worker processes are daemons; the hard exit stops
    them as the interpreter's exit would."""
    pid_file = tmp_path / 'child.pid'
    end = ('import multiprocessing\n'
           '    child = multiprocessing.Process(target=time.sleep, '
           'args=(120,), daemon=True)\n'
           '    child.start()\n'
           f'    open({str(pid_file)!r}, "w").write(str(child.pid))')
    proc = run_script(tmp_path, end=end)
    assert proc.returncode == 0, proc.stderr[-2000:]
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_run_tool_without_distributed_exits_the_normal_way():
    calls = []
    assert run_tool(lambda: calls.append(1)) is None  # returns to the caller
    assert calls == [1]

    def fail():
        raise SystemExit('error: bad config')

    with pytest.raises(SystemExit, match='error: bad config'):
        run_tool(fail)
