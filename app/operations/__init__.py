"""Operations: the command line, evaluation and calibration, metrics and logs."""
