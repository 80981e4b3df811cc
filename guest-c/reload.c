/* State that a reload must reset: used only by the reload test. */
int counter = 100;
int bump(void) { return ++counter; }
