/* The scan's two passes over every byte, in C: the runs that may be candidates, and whether a
 * buffer holds UTF-16 text.
 *
 * runs(data, classes, min_length, shortest) -> list[bytes]
 *
 * ``classes`` has 256 entries, one per byte value: 0 outside the alphabet, 1 in it, 2 in it and a
 * digit. Returns every maximal run of alphabet bytes at least ``min_length`` long that is
 * ``shortest`` long or longer, or has a digit, in the order they occur (duplicates included).
 *
 * It is the same function as ``ivsecrets.scan.engine._python_runs``, which is used when this
 * module was not compiled, and which a property test holds it equal to. In Python the loop costs
 * one step per run of the alphabet (about 400,000 in the 100 MB bench tree, most of them
 * identifiers without a digit, which are dropped); here it is one pass over the bytes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *
runs(PyObject *module, PyObject *args)
{
    Py_buffer data, classes;
    Py_ssize_t min_length, shortest;
    if (!PyArg_ParseTuple(args, "y*y*nn", &data, &classes, &min_length, &shortest)) {
        return NULL;
    }
    PyObject *found = NULL;
    if (classes.len != 256) {
        PyErr_SetString(PyExc_ValueError, "classes must have 256 entries");
        goto done;
    }
    found = PyList_New(0);
    if (found == NULL) {
        goto done;
    }
    const unsigned char *bytes = data.buf;
    const unsigned char *class_of = classes.buf;
    Py_ssize_t size = data.len;
    /* ``start`` is where a run could begin: the buffer's start, or just after a byte outside
     * the alphabet. Most runs are short words, so the byte ``min_length - 1`` ahead is tested
     * first, and then backwards from it: a byte outside the alphabet among them moves ``start``
     * past it without looking at the others (the skip of Boyer-Moore-Horspool). */
    Py_ssize_t start = 0;
    while (min_length > 0 && start + min_length <= size) {
        Py_ssize_t k = start + min_length - 1;
        while (k >= start && class_of[bytes[k]]) {
            k--;
        }
        if (k >= start) {
            start = k + 1;
            continue;
        }
        /* bytes[start .. start + min_length) are all in the alphabet: a run; find its end */
        int digit = 0;
        Py_ssize_t end = start;
        while (end < size && class_of[bytes[end]]) {
            digit |= class_of[bytes[end]] == 2;
            end++;
        }
        Py_ssize_t length = end - start;
        if (length >= shortest || digit) {
            PyObject *run = PyBytes_FromStringAndSize((const char *)bytes + start, length);
            if (run == NULL || PyList_Append(found, run) < 0) {
                Py_XDECREF(run);
                Py_CLEAR(found);
                goto done;
            }
            Py_DECREF(run);
        }
        start = end + 1; /* bytes[end] is outside the alphabet, or the end of the buffer */
    }
done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&classes);
    return found;
}

/* has_utf16(data, table, count) -> bool: is there ``count`` times (text character, NUL) in a
 * row, where ``table`` marks the text characters (256 entries, non-zero for text)? That is
 * UTF-16 text in the ASCII range, little-endian, or big-endian after its first NUL. Walks from
 * NUL to NUL with memchr (binary data has few), following each chain of pairs once. */
static PyObject *
has_utf16(PyObject *module, PyObject *args)
{
    Py_buffer data, table;
    Py_ssize_t count;
    if (!PyArg_ParseTuple(args, "y*y*n", &data, &table, &count)) {
        return NULL;
    }
    PyObject *result = NULL;
    if (table.len != 256) {
        PyErr_SetString(PyExc_ValueError, "table must have 256 entries");
        goto done;
    }
    const unsigned char *bytes = data.buf;
    const unsigned char *text = table.buf;
    Py_ssize_t size = data.len;
    int found = 0;
    Py_ssize_t q = 1; /* a pair's NUL is at q, its character at q - 1 */
    while (!found && q < size) {
        const unsigned char *nul = memchr(bytes + q, 0, (size_t)(size - q));
        if (nul == NULL) {
            break;
        }
        q = nul - bytes;
        Py_ssize_t pairs = 0;
        while (q < size && bytes[q] == 0 && text[bytes[q - 1]]) {
            if (++pairs >= count) {
                found = 1;
                break;
            }
            q += 2;
        }
        /* the chain broke at q: no chain of the other parity crosses it (its NULs would sit
         * on this chain's characters), and one of this parity starting later starts at q+ */
        if (pairs == 0) {
            q++;
        }
    }
    result = PyBool_FromLong(found);
done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&table);
    return result;
}

static PyMethodDef methods[] = {
    {"has_utf16", has_utf16, METH_VARARGS,
     "has_utf16(data, table, count) -> bool: count pairs of (text character, NUL) in a row."},
    {"runs", runs, METH_VARARGS,
     "runs(data, classes, min_length, shortest) -> list[bytes]: the maximal runs of the alphabet "
     "``classes`` marks, min_length or longer, that are shortest or longer or have a digit."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "ivsecrets.scan._runs", "The scan's passes over every byte, in C.", -1, methods,
};

PyMODINIT_FUNC
PyInit__runs(void)
{
    return PyModule_Create(&module);
}
