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
# thread is made to finish a collective late: a callback on it sleeps past
# the end of the script. The worker then releases the work, whose tensor
# belongs to Python, and takes the GIL to do so. (In training the worker is
# late by chance, not by a callback: 3 of 57 two-process runs.)
HAZARD = '''
import sys, time, torch, torch.distributed as dist
sys.path.insert(0, {root!r})
from vis.config_utils import close_distributed, run_tool

def main():
    global pg
    dist.init_process_group('gloo', init_method='file://{store}',
                            rank=0, world_size=1)
    pg = dist.group.WORLD
    close_distributed()
    tensor = torch.ones(1)
    work = pg.allreduce([tensor])
    work.get_future().then(lambda fut: time.sleep(0.5))
    del tensor, work
    time.sleep(0.05)
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
    """The hazard is real with this torch: the interpreter's own exit is
    killed by a signal (SIGABRT or SIGSEGV) after the work is done. If this
    starts passing with a newer torch, run_tool's hard exit may no longer be
    needed."""
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
