/* Seed example: sum an array of ints passed by pointer. */
int our_function(int num_numbers, int *numbers) {
    int i;
    int sum = 0;
    for (i = 0; i < num_numbers; i++) {
        sum += numbers[i];
    }
    return sum;
}

/* Two ints in, one out: the smallest useful call. */
int add(int a, int b) {
    return a + b;
}
