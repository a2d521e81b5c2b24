"""Build a shared-memory segment (`shared_buffer`) in a forked child process that exits after it:
the parse's heap dies with the child, an exception it raises comes back as itself, and a child
that dies without a word is an error, not a hang. Standard library only."""
import gc
import os
import pickle
import signal
import sys
import traceback

from .shared_buffer import SHM_DIR, SegmentWriter, unlink


def build_in_child(build, name, key, directory=SHM_DIR):
    """Run `build(writer)` in a forked child process that writes segment `name` and exits.

    `build` appends every serialized record to `writer` (a `SegmentWriter`) and returns the state
    to keep beside them (any picklable object; `map_segment` returns it). An exception it
    raises is raised here, the same type with the same message (where it pickles; else a
    RuntimeError that names it). A child that dies without a word (killed, e.g. for memory)
    raises RuntimeError. Returns the child's PID.
    """
    read_end, write_end = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        _child(build, name, key, directory, read_end, write_end, parent)     # never returns
    os.close(write_end)
    try:
        with os.fdopen(read_end, 'rb') as f:
            reply = f.read()
        _, status = os.waitpid(pid, 0)
    except BaseException:                 # e.g. Ctrl-C in the parent: no orphan, no segment
        _kill(pid)
        unlink(name, directory)
        raise
    if not reply:
        unlink(name, directory)
        why = (f'signal {signal.Signals(os.WTERMSIG(status)).name}' if os.WIFSIGNALED(status)
               else f'exit status {os.waitstatus_to_exitcode(status)}')
        raise RuntimeError(f'the process that built the data list (PID {pid}) died ({why}) '
                           'before it reported: killed for memory?')
    outcome, value = pickle.loads(reply)
    if outcome == 'error':
        unlink(name, directory)
        exc, where = value
        if hasattr(exc, 'add_note'):                       # Python 3.11
            exc.add_note(f'(raised at {where} in PID {pid}, the process that built the data list)')
        raise exc
    return pid


def _child(build, name, key, directory, read_end, write_end, parent):
    # os._exit in every case: the child must not run the parent's atexit handlers, finalizers or
    # test harness, and need not free the parse's millions of objects one by one (for LVIS v1
    # train, seconds of deallocation and of mmengine's gc.collect()).
    # No cyclic collection either: the child lives for one build, and the collector would only
    # traverse the parse's millions of containers again and again while none is garbage (13 s
    # of a 35 s full-vocabulary build of LVIS v1 train, the peak unchanged).
    gc.disable()
    status = 1
    try:
        os.close(read_end)
        writer = None
        try:
            writer = SegmentWriter(name, key, directory)
            state = build(writer)
            if os.getppid() != parent:        # the rank was killed meanwhile: nobody will map it
                raise RuntimeError(f'the process {parent} that asked for the data list is gone')
            writer.finish(state)
            reply, status = ('ok', None), 0
        except BaseException as e:
            if writer is not None:
                writer.abort()
            reply = ('error', (portable(e), _where(e)))
        with os.fdopen(write_end, 'wb') as f:
            f.write(pickle.dumps(reply))
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(status)


def portable(exc):
    """`exc` if it survives pickling as itself (type and message), else a RuntimeError naming it."""
    try:
        back = pickle.loads(pickle.dumps(exc))
        if type(back) is type(exc) and str(back) == str(exc):
            back.__traceback__ = None
            return back
    except Exception:
        pass
    return RuntimeError(f'{type(exc).__name__}: {exc}')


def _where(exc):
    frames = traceback.extract_tb(exc.__traceback__)
    return f'{frames[-1].filename}:{frames[-1].lineno}' if frames else 'unknown'


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
