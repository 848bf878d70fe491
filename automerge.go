package agentorg

import "context"

// AutoMerger is implemented by trackers whose forge can merge a merge
// request by itself once the pipeline on its head succeeds (GitLab's
// auto-merge, formerly "merge when pipeline succeeds").
type AutoMerger interface {
	// AutoMergeMR asks the forge to merge the request when its pipeline
	// succeeds, guarded like MergeMR: the head must be expectedSHA
	// (ErrHeadMoved otherwise). It returns the merge request as it is
	// afterwards: merged when the forge found nothing to wait for, else
	// open with AutoMerge set. A failed pipeline or a push cancels the
	// auto-merge on the forge's side; asking again when it is already set
	// changes nothing.
	AutoMergeMR(ctx context.Context, number int64, expectedSHA, actor string) (MergeRequest, error)
	// CancelAutoMerge withdraws a pending auto-merge (the approval behind
	// it no longer holds); a merge request without one is left as it is.
	CancelAutoMerge(ctx context.Context, number int64, actor string) (MergeRequest, error)
}
