// Package sweep searches the hyperparameters of the net, its hidden layers
// among them: a Space of lists and ranges, trials drawn from it
// deterministically (by the sweep seed and the trial index, whatever the
// number of workers), run in
// parallel by a Runner that appends each finished trial to a results file
// as it finishes, resumes a sweep from that file, prunes with successive
// halving, and splits the trials into shards for a cluster.
//
// On disk a sweep directory holds sweep.json (the space, so that a resume
// with another space is caught), results.jsonl (or results-shard-I-of-N.jsonl,
// one JSON object per finished trial and rung, fsynced as written),
// trials/NNNN-rungR.npz (each trial's latest checkpoint) and, at the end,
// best.npz.
package sweep
