using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Contracts.V1;

namespace DistributedExecutor.Master.Jobs;

/// <summary>
/// The state rules, kept pure so they can be tested on their own. Terminal states absorb everything: a
/// duplicate, late or reordered event can add to an attempt's record but never reopens a finished task.
/// </summary>
internal static class TaskRules
{
    public static bool IsTerminal(TaskState state) =>
        state is TaskState.Succeeded or TaskState.Failed or TaskState.TimedOut or TaskState.Canceled;

    public static TaskState ToState(TaskOutcome outcome) => outcome switch
    {
        TaskOutcome.Succeeded => TaskState.Succeeded,
        TaskOutcome.Failed => TaskState.Failed,
        TaskOutcome.TimedOut => TaskState.TimedOut,
        TaskOutcome.Canceled => TaskState.Canceled,
        TaskOutcome.Abandoned => TaskState.Lost,
        _ => TaskState.Failed,
    };

    /// <summary>A task's state after an attempt started; null when the event changes nothing.</summary>
    public static TaskState? OnStarted(TaskState current) =>
        IsTerminal(current) ? null : TaskState.Running;

    /// <summary>
    /// A task's state after one of its attempts ended. An abandoned (given back) attempt requeues the task only
    /// when it is the task's latest attempt: a newer attempt may already be running elsewhere.
    /// </summary>
    public static TaskState? OnFinished(TaskState current, bool isLatestAttempt, TaskOutcome outcome, bool cancelRequested)
    {
        if (IsTerminal(current))
        {
            return null;
        }

        if (outcome == TaskOutcome.Abandoned)
        {
            if (!isLatestAttempt)
            {
                return null;
            }

            return cancelRequested ? TaskState.Canceled : TaskState.Queued;
        }

        return ToState(outcome);
    }

    /// <summary>A job's state from how many of its tasks are in each state.</summary>
    /// <param name="counts">Tasks per state.</param>
    /// <param name="canceledByUser">False when the job's canceled tasks were skipped by --max-errors: then its failures decide.</param>
    public static TaskState DeriveJobState(IReadOnlyDictionary<TaskState, int> counts, bool canceledByUser = true)
    {
        int Count(TaskState s) => counts.GetValueOrDefault(s);
        var total = counts.Values.Sum();
        if (total == 0)
        {
            return TaskState.Queued;
        }

        var terminal = Count(TaskState.Succeeded) + Count(TaskState.Failed) + Count(TaskState.TimedOut) + Count(TaskState.Canceled);
        if (terminal < total)
        {
            return Count(TaskState.Queued) == total ? TaskState.Queued : TaskState.Running;
        }

        if (Count(TaskState.Succeeded) == total)
        {
            return TaskState.Succeeded;
        }

        if (Count(TaskState.Canceled) > 0 && (canceledByUser || Count(TaskState.Failed) + Count(TaskState.TimedOut) == 0))
        {
            return TaskState.Canceled;
        }

        return Count(TaskState.Failed) > 0 ? TaskState.Failed : TaskState.TimedOut;
    }
}
