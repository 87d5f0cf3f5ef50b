"""One handler per verb (get, list, watch, create, update, patch, delete, deletecollection) and per
special subresource (scale, binding, eviction), shared by every resource."""
