package cifar

// ReadPickleBatch is readPickleBatch, for the fuzz test in package cifar_test.
var ReadPickleBatch = readPickleBatch
var CheckPickle = checkPickle
