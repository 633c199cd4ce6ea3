// Every platform but Linux: no inventory (no /proc fd table, no inet_diag).
#include <errno.h>

#include "diag.h"
#include "liveness.h"

int tl_diag_snapshot(int, int, int, tl_snapshot*) { return TL_FAIL(ENOSYS, TL_SITE_NETLINK); }
