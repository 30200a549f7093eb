-- dispatch/clear_batches: forget an interval's previous send plan (ops.dispatch_batches).
DELETE FROM ops.dispatch_batches WHERE interval_start = :interval_start;
