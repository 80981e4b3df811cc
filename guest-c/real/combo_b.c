#include "combo.h"
#ifdef UNWANTED
#error "UNWANTED must be undefined (-UUNWANTED)"
#endif
int combo(int x) { return combo_scale(x) + COMBO_OFFSET; }
