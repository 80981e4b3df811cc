#include "combo.h"
int combo_scale(int x) { return SCALE * x; }
