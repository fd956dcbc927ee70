using DistributedExecutor.Contracts.Messages;

namespace DistributedExecutor.Worker.Running;

/// <summary>
/// The worker's task slots, shared by its pool's three queues (high, normal, low): a task takes a slot before it
/// runs, and a freed slot goes to the highest priority waiting. Messages of a queue arrive one ack after another, so
/// a slot a task frees is kept for its own priority or higher for <see cref="Linger"/> (the next message of a
/// backlog arrives within a round trip) before a lower one may take it. No waiting task starves: once
/// <see cref="PassLimit"/> slots in a row went to higher priorities while a lower one waited, the longest-waiting
/// lower task gets the next. With one priority in use nothing ever waits here: its queue's prefetch is the capacity.
/// </summary>
internal sealed class PrioritySlots
{
    /// <summary>
    /// How long a freed slot stays reserved for its task's priority or higher. The next message of a backlog comes
    /// one ack later, a few ms; 25 ms proved too short on a loaded machine (a low task overtook a normal one once in
    /// a clean-clone test run), and the wait costs a slot this long only once, when a higher backlog runs out.
    /// </summary>
    public static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(100);

    /// <summary>Higher-priority starts in a row that may pass a waiting lower task.</summary>
    public const int PassLimit = 8;

    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly LinkedList<Waiter>[] _waiting = [new(), new(), new()]; // high, normal, low
    private readonly List<Reservation> _reserved = [];
    private int _free;
    private int _passed;
    private long _order;

    public PrioritySlots(int capacity, TimeProvider time)
    {
        _free = capacity;
        _time = time;
    }

    /// <summary>Tasks waiting for a slot, by priority (high, normal, low).</summary>
    public (int High, int Normal, int Low) Waiting
    {
        get
        {
            lock (_lock)
            {
                return (_waiting[0].Count, _waiting[1].Count, _waiting[2].Count);
            }
        }
    }

    /// <summary>Waits for a slot for a task of <paramref name="priority"/>; canceled with <paramref name="cancellationToken"/>.</summary>
    public Task EnterAsync(int priority, CancellationToken cancellationToken)
    {
        var level = Level(priority);
        lock (_lock)
        {
            // A slot kept for this priority or a lower one (a higher task may take it) — unless a lower task has been
            // passed over too often, which then gets it — else a free one if nobody of this priority or higher waits.
            var reserved = _reserved.FindIndex(r => r.Level >= level);
            if (reserved >= 0)
            {
                _reserved[reserved].Timer.Dispose();
                _reserved.RemoveAt(reserved);
                var starving = OldestBelow(level);
                if (starving is null || _passed < PassLimit)
                {
                    _passed = starving is null ? 0 : _passed + 1;
                    return Task.CompletedTask;
                }

                Grant(starving);
            }
            else if (_free > 0 && !WaitingAtOrAbove(level))
            {
                _free--;
                return Task.CompletedTask;
            }

            var waiter = new Waiter(level, _order++, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            var node = _waiting[level].AddLast(waiter);
            if (cancellationToken.CanBeCanceled)
            {
                waiter.Registration = cancellationToken.Register(() =>
                {
                    lock (_lock)
                    {
                        if (node.List is not null)
                        {
                            _waiting[level].Remove(node);
                        }
                    }

                    waiter.Done.TrySetCanceled(cancellationToken);
                });
            }

            return waiter.Done.Task;
        }
    }

    /// <summary>A task of <paramref name="priority"/> ended: its slot goes on.</summary>
    public void Leave(int priority)
    {
        var level = Level(priority);
        lock (_lock)
        {
            var next = Pick();
            if (next is not null && (next.Value.Level <= level || level == 2 || _passed >= PassLimit))
            {
                Grant(next);
            }
            else if (next is null && level == 2)
            {
                // A low task's slot with nobody waiting: anyone may take it at once.
                _free++;
            }
            else
            {
                // Kept a moment for the next task of this priority or higher (its queue delivers it one ack later),
                // then given to whoever waits.
                Reservation? reservation = null;
                reservation = new Reservation(level, _time.CreateTimer(_ => Expire(reservation!), null, Linger, Timeout.InfiniteTimeSpan));
                _reserved.Add(reservation);
            }
        }
    }

    private void Expire(Reservation reservation)
    {
        lock (_lock)
        {
            if (!_reserved.Remove(reservation))
            {
                return;
            }

            reservation.Timer.Dispose();
            if (Pick() is { } next)
            {
                Grant(next);
            }
            else
            {
                _free++;
            }
        }
    }

    /// <summary>Who gets a slot now: the highest priority waiting, or, once lower ones were passed over too often, the oldest of them.</summary>
    private LinkedListNode<Waiter>? Pick()
    {
        var best = _waiting.FirstOrDefault(q => q.Count > 0)?.First;
        return best is not null && _passed >= PassLimit && OldestBelow(best.Value.Level) is { } starving ? starving : best;
    }

    /// <summary>Whether a task of <paramref name="level"/>'s priority or higher waits (without allocating: this is on every task's way in).</summary>
    private bool WaitingAtOrAbove(int level)
    {
        for (var l = 0; l <= level; l++)
        {
            if (_waiting[l].Count > 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The longest-waiting task of a priority lower than <paramref name="level"/>'s.</summary>
    private LinkedListNode<Waiter>? OldestBelow(int level) =>
        _waiting.Skip(level + 1).Where(q => q.Count > 0).Select(q => q.First!).MinBy(n => n.Value.Order);

    private void Grant(LinkedListNode<Waiter> node)
    {
        // Counts the starts in a row that passed a waiting lower task; a start of the lowest waiting resets it.
        _waiting[node.Value.Level].Remove(node);
        _passed = OldestBelow(node.Value.Level) is null || _passed >= PassLimit ? 0 : _passed + 1;
        node.Value.Registration.Dispose();
        node.Value.Done.TrySetResult();
    }

    private static int Level(int priority) => priority > TaskPriority.Normal ? 0 : priority < TaskPriority.Normal ? 2 : 1;

    private sealed record Reservation(int Level, ITimer Timer);

    private sealed class Waiter(int level, long order, TaskCompletionSource done)
    {
        public int Level { get; } = level;

        public long Order { get; } = order;

        public TaskCompletionSource Done { get; } = done;

        public CancellationTokenRegistration Registration { get; set; }
    }
}
