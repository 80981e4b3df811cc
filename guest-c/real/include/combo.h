/* The header of the combo library: built from two sources with -I and -D. */
#ifndef COMBO_H
#define COMBO_H
#ifndef SCALE
#error "SCALE must be defined (-DSCALE=N)"
#endif
#define COMBO_OFFSET 7
int combo_scale(int x);
int combo(int x);
#endif
